"""The seed ResNeXt block (examples/resnext_block.py, verbatim below the imports) and a
ResNeXt-50 (32x4d) builder, used by bench/run.py to compare linting the model with
building its graph in Keras.  The builder uses the block the way ResNeXt does: the first
block of each stage projects, the later ones receive filters*2 channels at stride 1, so
the model builds and keras-shape-lint should report nothing for it.

Linting reads this file as text; building it imports TensorFlow and Keras (in a
subprocess started by bench/run.py) and calls ``build_model()``.
"""
from tensorflow.keras.layers import (
    Add,
    BatchNormalization,
    Conv2D,
    Dense,
    GlobalAveragePooling2D,
    Input,
    MaxPooling2D,
    ReLU,
)
from tensorflow.keras.models import Model


def grouped_convolution_block(x, strides, groups, g_channels):
    x = Conv2D(g_channels * groups, (3, 3), strides=strides, padding="same", groups=groups, use_bias=False)(x)
    x = BatchNormalization(epsilon=1.001e-5)(x)
    return ReLU()(x)


def block(x, filters, strides=1, groups=32, conv_shortcut=True):
    if conv_shortcut:
        shortcut = Conv2D(filters * 2, kernel_size=(1, 1), strides=strides, padding="same", use_bias=False)(x)
        shortcut = BatchNormalization(epsilon=1.001e-5)(shortcut)
    else:
        shortcut = x
    x = Conv2D(filters=filters, kernel_size=(1, 1), strides=1, padding="same", use_bias=False)(x)
    x = BatchNormalization(epsilon=1.001e-5)(x)
    x = ReLU()(x)
    g_channels = int(filters / groups)
    x = grouped_convolution_block(x, strides, groups, g_channels)
    x = Conv2D(filters=filters * 2, kernel_size=(1, 1), strides=1, padding="same", use_bias=False)(x)
    x = BatchNormalization(epsilon=1.001e-5)(x)
    x = Add()([x, shortcut])
    x = ReLU()(x)
    return x


def stack(x, filters, blocks, strides1=2, groups=32):
    x = block(x, filters, strides=strides1, groups=groups, conv_shortcut=True)
    for _ in range(2, blocks + 1):
        x = block(x, filters, groups=groups, conv_shortcut=False)
    return x


def build_model(input_shape=(224, 224, 3), classes=1000):
    inputs = Input(shape=input_shape)
    x = Conv2D(64, (7, 7), strides=2, padding="same", use_bias=False)(inputs)
    x = BatchNormalization(epsilon=1.001e-5)(x)
    x = ReLU()(x)
    x = MaxPooling2D((3, 3), strides=2, padding="same")(x)
    x = stack(x, 128, 3, strides1=1)
    x = stack(x, 256, 4)
    x = stack(x, 512, 6)
    x = stack(x, 1024, 3)
    x = GlobalAveragePooling2D()(x)
    outputs = Dense(classes, activation="softmax")(x)
    return Model(inputs, outputs, name="resnext50_seed")
